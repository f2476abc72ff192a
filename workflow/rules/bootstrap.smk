# bootstrap: confidence interval of one run's test accuracy from its predictions (CPU, about a second). A local
# rule: on a cluster a queue slot per run would cost more than the work itself.


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
    wildcard_constraints:
        key=".+",
    threads: RES.default.cpus
    resources:
        **stage_resources(RES.default),
    conda:
        "../envs/limitlab.yaml"
    shell:
        "limitlab bootstrap --predictions {input:q} --samples {params.samples} --seed {params.seed} "
        "--ci {params.ci} --out {output:q} > {log:q} 2>&1"
