"""Networks: ensemble layers, the architecture zoo, OFENet, pixel encoders, parameter tables."""

from .encoders import PixelEncoder, Projection, random_shift
from .layers import (ACTIVATIONS, EnsembleBatchNorm, EnsembleLayerNorm, EnsembleLinear, SpectralLinear,
                     make_activation, make_norm)
from .ofenet import TARGET_DIMS, OFENet, RawInputs, make_extractor, target_dims_for
from .params import layer_rows, parameter_table, totals
from .trunks import (TRUNKS, D2RL, BroNet, DenseNet, Modern, MLP, ResNet, SimBa, Trunk, build_trunk,
                     count_parameters, resolved_expansion, resolved_norm, spectral_layers)

__all__ = ["PixelEncoder", "Projection", "random_shift", "ACTIVATIONS", "EnsembleBatchNorm", "EnsembleLayerNorm", "EnsembleLinear", "SpectralLinear",
           "make_activation", "make_norm", "TARGET_DIMS", "OFENet", "RawInputs", "make_extractor",
           "target_dims_for", "layer_rows", "parameter_table", "totals", "TRUNKS", "D2RL", "BroNet", "DenseNet", "Modern", "MLP", "ResNet",
           "SimBa", "Trunk", "build_trunk", "count_parameters", "resolved_expansion", "resolved_norm",
           "spectral_layers"]
