"""Compiling a network keeps torch's build-environment warning ("No CUDA runtime is found, using
CUDA_HOME=...", printed when inductor loads on a CPU machine) off the user's console (QA item 9)."""
import logging

import torch

from cnn_studio.training import speed


def test_compile_module_keeps_cpp_extension_warnings_quiet():
    log = logging.getLogger("torch.utils.cpp_extension")
    log.setLevel(logging.NOTSET)
    speed.compile_module(torch.nn.Linear(2, 2))  # torch.compile is lazy: nothing compiles until a call
    assert not log.isEnabledFor(logging.WARNING) and log.isEnabledFor(logging.ERROR)
