"""Hypothesis strategies for valid random spiking networks and their inputs,
one module per family (each strategy is named after what it generates and
composes the smaller ones):

- `layers`: hyperparameters (thresholds, decay_constants, spike_functions)
  and single layers: neuron_layers, shape_preserving_layers, mapping_layers
  (one LayerSpec that fits), image_layers and image_stems (a chain of image
  layers ending in Flatten);
- `networks`: whole random networks, for the forward, float32 and gradient
  rows: runs (a RunSpec: network, inputs, forward semantics, burnin) of
  networks (a NetworkSpec of 1 to 8 layers, any connectivity) on topologies
  (who reads whom: feed-forward, feedback, self-loops);
- `isolated`: isolated_runs, one layer of a given class fed by external
  input (the class rows: no graph rule involved);
- `graph_rules`: networks of simple layers exercising one graph rule each
  (the graph rows: straight_through_runs, feedback_runs, concatenation_runs,
  several_inputs_and_outputs_runs, final_layer_runs, burnin_runs,
  composed_in_graph_runs, random_layer_key_runs), built from wirings and
  simple_networks;
- `states`: the state rows' runs from a given state and runs in two calls.

Arrays are drawn from a NumPy generator seeded by Hypothesis (fast, and
reproducible from the printed example); shapes, kinds, edges and scalars are
drawn by Hypothesis itself, so they shrink. Every strategy is importable
from `spec_tests.strategies` itself.
"""

from .graph_rules import (COMPOSED_IN_GRAPH, SIMPLE_KINDS, SIMPLE_MAX_STEPS, SIMPLE_NEURONS,
                          burnin_runs, composed_constructor_runs, composed_in_graph_runs,
                          concatenation_runs,
                          edge_free_wirings, external_reads, feed_forward_trees,
                          feed_forward_wirings, feedback_runs, feedback_wirings,
                          final_layer_choices, final_layer_runs, input_sizes,
                          random_layer_key_runs, several_inputs_and_outputs_runs,
                          simple_composed_layers, simple_linear_layers, simple_networks,
                          simple_preserving_layers, simple_runs, straight_through_runs,
                          wiring_edges)
from .isolated import (ISOLATED_KINDS, image_shapes, isolated_layers, isolated_networks,
                       isolated_runs, neuron_shapes)
from .layers import (MAX_VECTOR_SIZE, decay_constants, dropout_layers, image_layers, image_stems,
                     layer_norms, linear_layers, mapping_layers, neuron_layers, real_numbers,
                     reset_values, shape_preserving_layers, spike_functions, surrogate_arguments,
                     thresholds, vector_sizes)
from .networks import MAX_LAYERS, input_sequences, networks, runs, topologies, with_key_seeds
from .states import (UNEVEN_CHUNK_STEPS, chunked_runs, runs_from_states, runs_of_any_network,
                     uneven_chunk_steps)
