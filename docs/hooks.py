"""MkDocs hooks: short anchors for SPEC.md's numbered sections, and links to them.

SPEC.md stays the one normative text at the repository root; `docs/spec.md`
is the line `--8<-- "SPEC.md"`, which this hook replaces with the file. Its headings are long (a signature, the
state layout), so their generated anchors are too: every heading that starts
with a section number, `## 4.` or `### 4.6`, gets the anchor `sec-4` or
`sec-4-6` instead, and "SPEC §4.6" / "SPEC.md §4.6" in any other page
becomes a link to it.
"""

import pathlib
import re

_SPEC_INCLUDE = '--8<-- "SPEC.md"'
_NUMBERED_HEADING = re.compile(r"^(#{2,4}) (\d+(?:\.\d+)*)\.? (.*)$", re.M)
_SPEC_REFERENCE = re.compile(r"SPEC(?:\.md)? §(\d+(?:\.\d+)*)")
# Text outside tags and outside <code>/<pre> elements and existing links.
_SKIPPED_ELEMENT = re.compile(r"(<(pre|code|a)\b.*?</\2>|<[^>]*>)", re.S)


def section_anchor(number: str) -> str:
    """The anchor of SPEC section `number` ("4.6" -> "sec-4-6")."""
    return "sec-" + number.replace(".", "-")


def _anchor_heading(match: re.Match) -> str:
    hashes, number, title = match.groups()
    return f"{hashes} {number}{'.' if '.' not in number else ''} {title} {{ #{section_anchor(number)} }}"


def _link_references(text: str, spec_url: str) -> str:
    return _SPEC_REFERENCE.sub(
        lambda m: f'<a href="{spec_url}#{section_anchor(m.group(1))}">{m.group(0)}</a>', text)


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != "spec.md":
        return markdown
    # Included here rather than by pymdownx.snippets, which runs after this
    # hook: the headings must be in the page to get their anchors.
    spec = pathlib.Path(config["config_file_path"]).parent / "SPEC.md"
    markdown = markdown.replace(_SPEC_INCLUDE, spec.read_text(encoding="utf-8"))
    return _NUMBERED_HEADING.sub(_anchor_heading, markdown)


def on_page_content(html, page, config, files):
    if page.file.src_uri == "spec.md":
        return html
    depth = page.file.dest_uri.count("/")
    spec_url = "../" * depth + "spec/"
    if not config.get("use_directory_urls", True):
        spec_url = "../" * depth + "spec.html"
    pieces = _SKIPPED_ELEMENT.split(html)
    # split() with two groups yields: text, whole match, inner group, text, ...
    out = []
    for index, piece in enumerate(pieces):
        if piece is None:
            continue
        kind = index % 3
        if kind == 0:
            out.append(_link_references(piece, spec_url))
        elif kind == 1:
            out.append(piece)
    return "".join(out)
