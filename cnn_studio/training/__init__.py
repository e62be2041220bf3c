"""Training engine: Trainer, callbacks, metrics, checkpoints and run directories. torch, no Qt.

    from cnn_studio.training import Trainer, TrainConfig, Callback
    summary = Trainer(graph, DataConfig("shapes"), TrainConfig(epochs=5)).fit()
"""
from .callbacks import STOP_REASONS, Callback, CallbackList, State
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .config import MONITORS, OPTIMIZERS, SCHEDULES, TrainConfig, TrainConfigError
from .metrics import evaluate
from .optim import DeviceError, resolve_device
from .rundir import METRIC_COLUMNS, RunDir, RunDirError, new_run_path
from .trainer import Trainer, TrainingError
from .distributed import DistributedError, DistributedTrainer, distributed_session, init_distributed, shutdown_distributed

__all__ = [
    "Trainer", "TrainConfig", "TrainConfigError", "TrainingError", "Callback", "CallbackList", "State", "STOP_REASONS",
    "evaluate", "load_checkpoint", "save_checkpoint", "CheckpointError", "RunDir", "RunDirError", "new_run_path",
    "METRIC_COLUMNS", "resolve_device", "DeviceError", "OPTIMIZERS", "SCHEDULES", "MONITORS",
    "DistributedTrainer", "DistributedError", "init_distributed", "shutdown_distributed", "distributed_session",
]
