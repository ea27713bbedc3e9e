"""Neural networks on window_ner.autodiff: modules, layers, losses, optimisers, schedules, safe save/load."""

from window_ner.nn import init, io
from window_ner.nn.io import ModelFileError
from window_ner.nn.layers import ACTIVATIONS, Dropout, Embedding, HardTanh, Linear, ReLU, Sequential, Sigmoid, Tanh
from window_ner.nn.losses import binary_cross_entropy_with_logits, cross_entropy, max_margin
from window_ner.nn.module import IncompatibleKeys, Module, ModuleList, Parameter, StateDictError
from window_ner.nn.optim import SGD, AdaGrad, Adagrad, Adam, AdamW, Optimizer, clip_grad_norm
from window_ner.nn.schedules import LinearWarmup, ReduceLROnPlateau, StepLR

__all__ = [
    "Parameter", "Module", "ModuleList", "StateDictError", "IncompatibleKeys",
    "Linear", "Embedding", "ACTIVATIONS", "Dropout", "Tanh", "ReLU", "HardTanh", "Sigmoid", "Sequential",
    "cross_entropy", "binary_cross_entropy_with_logits", "max_margin",
    "Optimizer", "SGD", "Adagrad", "AdaGrad", "Adam", "AdamW", "clip_grad_norm",
    "StepLR", "LinearWarmup", "ReduceLROnPlateau",
    "init", "io", "ModelFileError",
]
