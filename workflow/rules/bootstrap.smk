# bootstrap: confidence interval of one run's test accuracy from its predictions (CPU, about a second). On a
# cluster it runs inside its run's group job (group "run", see common.smk), never as a queue slot of its own.


rule bootstrap:
    input:
        f"{EVAL_DIR}/predictions.npz",
    output:
        f"{EVAL_DIR}/bootstrap.json",
    params:
        samples=EXP.bootstrap.samples,
        seed=EXP.bootstrap.seed,
        ci=EXP.bootstrap.ci,
    log:
        f"{LOGS}/bootstrap/{{key}}.log",
    benchmark:
        f"{LOGS}/benchmarks/bootstrap/{{key}}.tsv"
    wildcard_constraints:
        key=".+",
    group:
        RUN_GROUP
    threads: RES.default.cpus
    resources:
        **stage_resources(RES.default),
    conda:
        "../envs/limitlab.yaml"
    shell:
        "limitlab bootstrap --predictions {input:q} --samples {params.samples} --seed {params.seed} "
        "--ci {params.ci} --out {output:q} > {log:q} 2>&1"
