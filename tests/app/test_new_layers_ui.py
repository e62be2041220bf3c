"""Issue 13's layers in the app: the palette lists them (icon, teaching tooltip) with the new
'Resampling & reshape' group after Pooling, and dropping them onto the canvas builds a network
the analysis accepts, one undo step per drop, undone back to the start."""
from __future__ import annotations

from app_helpers import drop, node_pos, norm

from cnn_studio.core.layers import CATEGORIES, get_spec

NEW = (
    "conv_transpose2d", "separable_conv2d", "upsample", "groupnorm", "layernorm", "instancenorm2d", "relu6",
    "hardswish", "identity", "zeropad2d", "reshape", "multiply", "mean_hw",
)


def test_palette_lists_the_new_layers_with_icons_and_tooltips(window):
    pal = window.palette_widget
    # a header's tooltip is its category's full name (the header may show a compact one)
    tops = [pal.tree.topLevelItem(i).toolTip(0) for i in range(pal.tree.topLevelItemCount())]
    assert tops.index("Resampling & reshape") == tops.index("Pooling") + 1
    assert [c for c in CATEGORIES if c in tops] == tops
    assert not pal.categories["Resampling & reshape"].icon(0).isNull()
    for t in NEW:
        item = pal.items[t]
        assert item.parent().toolTip(0) == get_spec(t).category
        assert not item.icon(0).isNull(), t
        assert get_spec(t).help[:40] in item.toolTip(0), t
    pal.set_filter("squeeze")  # the tooltips teach where a layer is used: SE blocks
    assert {"multiply", "mean_hw"} <= set(pal.visible_types())


def chain(graph):
    order = [graph.input_node().id]
    while graph.out_edges(order[-1]):
        order.append(graph.out_edges(order[-1])[0].dst)
    return order


def test_dropping_the_new_layers_builds_a_valid_network_and_undo_restores_it(empty_window):
    w = empty_window
    g = w.graph
    start = norm(g.to_config())
    steps = ["conv_transpose2d", "groupnorm", "relu6", "separable_conv2d", "hardswish", "zeropad2d", "upsample",
             "instancenorm2d", "mean_hw", "reshape", "linear"]
    for type_id in steps:
        drop(w, type_id, node_pos(w, chain(g)[-2]))  # onto the last layer's card: appended before the loss
    types = [g.nodes[n].type for n in chain(g)]
    assert types == ["input", *steps, "cross_entropy"]
    a = w.document.analysis
    assert a.ok, [str(i) for i in a.issues]
    shapes = [a.nodes[n].output_shape for n in chain(g)]
    # 3x32x32 -> transposed conv x2 -> 16x64x64 ... zero padding 1 per side -> 66, Upsample x2 -> 132
    assert shapes[1] == (16, 64, 64) and shapes[6] == (16, 66, 66) and shapes[7] == (16, 132, 132)
    assert shapes[9] == (16, 1, 1) and shapes[10] == (16,) and a.output_shape == (10,)
    stack = w.document.undo_stack
    assert stack.count() >= len(steps)
    for _ in steps:
        stack.undo()
    assert norm(g.to_config()) == start
