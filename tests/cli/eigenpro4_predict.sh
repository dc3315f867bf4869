#!/usr/bin/env bash
# End to end: train `eigenpro4` (2 epochs) on 6000 random Fashion-MNIST points with p = 600
# centers at 2 ranks, check the model holds p centers, that predictions from it are identical at
# 1, 2 and 4 ranks, and that test accuracy (labels read independently in python) is above 0.80.
source "$(dirname "$0")/common.sh"
train_fmnist_model 6000 --solver.name=eigenpro4 --solver.centers=600 --solver.epochs=2 \
  --solver.nystrom_samples=1000
grep -q '"solver": "eigenpro4"' metrics.jsonl || fail "metrics lack the eigenpro4 lines"
run 1 info --model=model.kmpi | grep -q "centers = 600" || fail "the model does not hold 600 centers"
predict_fmnist_test_at_1_2_4
expect_fmnist_test_accuracy pred2.txt 0.80 "eigenpro4, 6000 training points, 600 centers"
echo "eigenpro4_predict: ok"
