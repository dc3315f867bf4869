#!/usr/bin/env bash
# End to end: train `direct` on 5000 random Fashion-MNIST points at 2 ranks, predict the test set,
# check accuracy > 0.83 against the labels read independently (python), and check that predictions
# from the saved model are identical at 1, 2 and 4 ranks.
source "$(dirname "$0")/common.sh"
train_fmnist_model 5000 --solver.name=direct
grep -q '"event": "done"' metrics.jsonl || fail "metrics lack the done line"
predict_fmnist_test_at_1_2_4
expect_fmnist_test_accuracy pred2.txt 0.83 "direct, 5000 training points"
run 2 eval --model=model.kmpi --data.features=$FM/t10k-images-idx3-ubyte.gz \
  --data.labels=$FM/t10k-labels-idx1-ubyte.gz --output.metrics=eval.jsonl
grep -q '"test_accuracy"' eval.jsonl || fail "eval metrics lack test_accuracy"
run 1 info --model=model.kmpi | grep -q "centers = 5000" || fail "info does not describe the model"
echo "direct_predict: ok"
