"""Speed of building and analysing the templates (File > New builds and analyses every one of them
on each change of the input size or class count). Prints medians per template at 3x224x224 and
1000 classes, each as a ratio to flat ResNet-18 measured in the same run; --json adds a JSON line."""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from _util import median_ms, report  # noqa: E402

from cnn_studio.core import analyze, templates  # noqa: E402


def main() -> None:
    figures: dict = {}
    base = median_ms(lambda: analyze(templates.build("resnet18", (3, 224, 224), 1000)), repeat=20)
    figures["resnet18_build_analyse_ms"] = round(base, 2)
    for name in ("resnet34", "resnet50", "mobilenet_v2", "unet"):
        build = median_ms(lambda: templates.build(name, (3, 224, 224), 1000), repeat=20)
        both = median_ms(lambda: analyze(templates.build(name, (3, 224, 224), 1000)), repeat=20)
        figures[f"{name}_build_ms"] = round(build, 2)
        figures[f"{name}_build_analyse_ms"] = round(both, 2)
        figures[f"{name}_vs_resnet18"] = round(both / base, 2)
    figures["all_templates_ms"] = round(median_ms(lambda: [analyze(templates.build(n, (3, 224, 224), 1000)) for n in templates.names()], repeat=5), 1)
    report("templates_build", figures)


if __name__ == "__main__":
    main()
