#!/usr/bin/env bash
# End to end: train `falkon` on 6000 random Fashion-MNIST points with p = 600 centers at 2 ranks,
# check the model holds p centers, that predictions from it are identical at 1, 2 and 4 ranks,
# and that test accuracy (labels read independently in python) is above 0.80 (p = 600 Nystrom
# KRR; the 5000-point exact solver reaches ~0.84).
source "$(dirname "$0")/common.sh"
train_fmnist_model 6000 --solver.name=falkon --solver.centers=600 --solver.ridge=1e-6
grep -q '"solver": "falkon"' metrics.jsonl || fail "metrics lack the falkon lines"
run 1 info --model=model.kmpi | grep -q "centers = 600" || fail "the model does not hold 600 centers"
predict_fmnist_test_at_1_2_4
expect_fmnist_test_accuracy pred2.txt 0.80 "falkon, 6000 training points, 600 centers"
echo "falkon_predict: ok"
