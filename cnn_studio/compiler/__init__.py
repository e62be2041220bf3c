"""Core graph -> torch.nn.Module; export and import live beside it."""
from .model import GraphModule, compile_model, module_name
from .modules import BUILDERS, LOSS_TYPES, make_loss

__all__ = ["GraphModule", "compile_model", "module_name", "BUILDERS", "LOSS_TYPES", "make_loss"]
