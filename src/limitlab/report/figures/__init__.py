"""The figures of one experiment (PNG + PDF in ``results_dir/figures/``): the shared style (:mod:`.style`), one module
per figure family (:mod:`.curves`, :mod:`.fano`, :mod:`.limit_beta`, :mod:`.q_network`, :mod:`.accuracy_vs_noise`,
:mod:`.detection`, :mod:`.susceptibility`) and the one figure index (:mod:`.index`: the table of figure kinds with
their report category and caption, and the driver that draws them and writes ``figures/index.json``). Figures read
cells, curves and tables from :mod:`limitlab.report`; like the rest of the family they may import
:mod:`limitlab.experiment`, :mod:`limitlab.io`, :mod:`limitlab.errors` and numpy / pandas / matplotlib / seaborn /
scipy, never torch, :mod:`limitlab.training`, :mod:`limitlab.evaluation` or :mod:`limitlab.jobs` (the one
exception: :func:`limitlab.data.canonical.load_canonical` for Figure 3's images).
"""
