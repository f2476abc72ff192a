# limitlab pipeline at the repository root: `snakemake ...` here runs workflow/Snakefile, the workflow itself
# (the standard layout; the Snakemake workflow catalog and snakedeploy read it there), so nothing else belongs here.
#
#   snakemake --profile workflow/profiles/local all                         # workstation (config/config.yaml)
#   snakemake --profile slurm all --config params=params/paper/cifar10.yaml  # SLURM (see docs/pipeline.md)


include: "workflow/Snakefile"


# An include leaves the default target as the including file had it (none here): `snakemake` with no target
# builds the workflow's default target, `all`, as it does with workflow/Snakefile itself.
workflow.default_target = "all"
