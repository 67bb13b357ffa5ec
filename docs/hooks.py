"""MkDocs hooks: SPEC.md in the site, short anchors for its numbered sections,
and links to them.

SPEC.md stays the one normative text at the repository root; `docs/spec.md`
is the line `--8<-- "SPEC.md"`, which this hook replaces with the file. Its
headings are long (a signature, the state layout), so their generated anchors
are too: every heading that starts with a section number, `## 4.` or
`### 4.6`, gets the anchor `sec-4` or `sec-4-6` instead. "SPEC §4.6" or
"SPEC.md §4.6" in any other page, and "§4.6" in the specification itself,
become links to it (outside code and existing links, and only for sections
that exist).
"""

import pathlib
import re

_SPEC_INCLUDE = '--8<-- "SPEC.md"'
_NUMBERED_HEADING = re.compile(r"^(#{2,4}) (\d+(?:\.\d+)*)\.? (.*)$", re.M)
_SPEC_REFERENCE = re.compile(r"SPEC(?:\.md)? §(\d+(?:\.\d+)*)")
_SECTION_REFERENCE = re.compile(r"§(\d+(?:\.\d+)*)")
# Elements whose text is left alone (code, links, headings), and tags.
_SKIPPED = re.compile(r"(<(pre|code|a|h[1-6])\b.*?</\2>|<[^>]*>)", re.S)

_sections: set = set()


def section_anchor(number: str) -> str:
    """The anchor of SPEC section `number` ("4.6" -> "sec-4-6")."""
    return "sec-" + number.replace(".", "-")


def _spec_text(config) -> str:
    return (pathlib.Path(config["config_file_path"]).parent / "SPEC.md").read_text(
        encoding="utf-8")


def on_config(config):
    _sections.clear()
    _sections.update(m.group(2) for m in _NUMBERED_HEADING.finditer(_spec_text(config)))
    return config


def _anchor_heading(match: re.Match) -> str:
    hashes, number, title = match.groups()
    dot = "" if "." in number else "."
    return f"{hashes} {number}{dot} {title} {{ #{section_anchor(number)} }}"


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != "spec.md":
        return markdown
    # Included here rather than by pymdownx.snippets, which runs after this
    # hook: the headings must be in the page to get their anchors.
    markdown = markdown.replace(_SPEC_INCLUDE, _spec_text(config))
    return _NUMBERED_HEADING.sub(_anchor_heading, markdown)


def _linked(text: str, pattern: re.Pattern, spec_url: str) -> str:
    def link(match):
        if match.group(1) not in _sections:
            return match.group(0)
        return f'<a href="{spec_url}#{section_anchor(match.group(1))}">{match.group(0)}</a>'
    return pattern.sub(link, text)


def on_page_content(html, page, config, files):
    if page.file.src_uri == "spec.md":
        pattern, spec_url = _SECTION_REFERENCE, ""
    else:
        pattern = _SPEC_REFERENCE
        depth = page.file.dest_uri.count("/")
        spec_url = "../" * depth + ("spec/" if config.get("use_directory_urls", True)
                                    else "spec.html")
    # split() with two groups yields: text, whole match, inner group, text, ...
    pieces = _SKIPPED.split(html)
    out = []
    for index, piece in enumerate(pieces):
        if index % 3 == 0:
            out.append(_linked(piece, pattern, spec_url))
        elif index % 3 == 1:
            out.append(piece)
    return "".join(out)
