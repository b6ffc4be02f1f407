#!/usr/bin/env bash
# The main job on embedded defaults: bundled Reactome and GO, simulated Perturb-seq data.
# simulate -> split -> knowledge bundle -> fit BioDSNN -> predict -> evaluate against the baselines.
# Output goes to ${1:-demo-output}/; each step writes files other tools read (h5ad, Parquet, JSON, PNG).
set -euo pipefail
OUT=${1:-demo-output}
EPOCHS=${DEMO_EPOCHS:-10}
mkdir -p "$OUT"

echo "== 1. ReactomeNet on the bundled Reactome release"
reactomenet info
echo "-- genes of Apoptosis (R-HSA-109581), first 10:"
reactomenet genes-of R-HSA-109581 | head -n 10
echo "-- level-2 pathways of TP53:"
reactomenet pathways-of TP53 --level 2

echo "== 2. Simulated CRISPRa screen (real gene symbols, known truth)"
biodsnn simulate --preset crispra --seed 0 -o "$OUT/perturb.h5ad"
biodsnn data split --data "$OUT/perturb.h5ad" --kind simulation --seed 1 -o "$OUT/split.json"

echo "== 3. Knowledge bundle (GO graph, co-expression over training cells, Reactome mask + Pearson fallback)"
kg-build bundle --data "$OUT/perturb.h5ad" --split "$OUT/split.json" -o "$OUT/knowledge"

echo "== 4. Train BioDSNN ($EPOCHS epochs)"
biodsnn fit --data "$OUT/perturb.h5ad" --knowledge "$OUT/knowledge" --split "$OUT/split.json" \
  -o "$OUT/run" --epochs "$EPOCHS" --seed 0

echo "== 5. Predict two held-out conditions"
mapfile -t TEST_CONDITIONS < <(python -c "import json,sys; s=json.load(open(sys.argv[1])); \
a=s['assignment']; t=sorted(c for c,v in a.items() if v=='test'); print('\n'.join(t[:2]))" "$OUT/split.json")
biodsnn predict "$OUT/run" --perturbations "${TEST_CONDITIONS[@]}" -o "$OUT/predictions.h5ad"

echo "== 6. Evaluate against the baselines on the test split"
biodsnn evaluate "$OUT/run" --baselines all --report "$OUT/report"
echo
echo "Done. Report: $OUT/report/report.md (metrics.parquet, summary.json, PNG figures beside it)"
