"""limitlab: reproduce and extend LIMIT (Harutyunyan et al., ICML 2020) on noisy labels."""

__version__ = "0.1.0"
