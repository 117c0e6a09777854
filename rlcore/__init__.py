"""rlcore: the library behind the notebooks that reproduce Ota et al. 2021 and Bjorck et al. 2021."""

__version__ = "0.1.0"
