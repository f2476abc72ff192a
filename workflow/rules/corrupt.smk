# corrupt: the train/validation split and noisy labels of one setting (dataset/noise/pXX/nN/sSEED), shared by
# every method trained on it. Cheap (seconds): a local rule.

rule corrupt:
    input:
        unpack(corrupt_inputs),
    output:
        labels=f"{DATA}/labels/{{setting}}/labels.npz",
        summary=f"{DATA}/labels/{{setting}}/labels.json",
    params:
        args=corrupt_args,
    log:
        f"{LOGS}/corrupt/{{setting}}.log",
    benchmark:
        f"{LOGS}/benchmarks/corrupt/{{setting}}.tsv"
    wildcard_constraints:
        setting=".+",
    threads: RES.default.cpus
    resources:
        **stage_resources(RES.default),
    conda:
        "../envs/limitlab.yaml"
    localrule: True
    shell:
        "limitlab corrupt {params.args} --data {input.data:q} --out {output.labels:q} > {log:q} 2>&1"
