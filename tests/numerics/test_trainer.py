"""The training engine: configuration, seeds (disjoint across --seed and keys), determinism, any model (hand-written
gradient or autograd), any data model, readouts, evaluation (any number of outputs), divergence, the CLI and bench."""
import json
import math

import numpy as np
import pytest
import torch

from numerics import checkpoint as ck
from numerics.attention import EnsembleAttention
from numerics.montecarlo import reduced_attention_risk
from numerics.training import (PatternReadout, TrainConfig, Trainer, TrainingDiverged, evaluate, evaluate_many,
                               log_steps, train)
from tests.helpers import Z, pattern_model
from theory.problem import Problem

TINY = dict(d=2, L=8, sigma2=0.1, n_head=2, batch=32, steps=300, log_every=100, eval_prompts=512)


@pytest.mark.parametrize("kw, match", [
    ({"n_head": 0}, r"n_head must be an integer in \[1, \d+\], got 0"),
    ({"L": 1}, r"L must be an integer .*2.*, got 1"),
    ({"lr": -1}, r"lr must be a finite number > 0.0, got -1"),
    ({"model": "mlp"}, r"model must be one of softmax, linear, linear-normalised, transformer, transformer-linear, "
                       r"got 'mlp'"),
    ({"optimizer": "lion"}, "optimizer must be one of"),
    ({"steps": 0}, "steps must be"),
    ({"ensemble": 0}, "ensemble must be"),
    ({"betas": (0.9, 1.0)}, "betas"),
    ({"dtype": "float16"}, "dtype must be one of"),
    ({"device": "tpu"}, "device must be cpu or cuda"),
    ({"key": ()}, "key must name"),
    ({"key": ("a", 1.5)}, "seed key parts"),
    ({"s": 9}, "s must be"),
    ({"s": 2, "supports": ((0,),)}, "at most one of"),
])
def test_config_rejects_bad_values_in_one_line(kw, match):
    with pytest.raises(ValueError, match=match) as exc:
        TrainConfig(**kw)
    assert "\n" not in str(exc.value)


def test_hash_covers_result_fields_only():
    a = TrainConfig()
    assert a.hash() == TrainConfig(device="cpu", checkpoint_every=7, threads=0).hash()
    for other in (TrainConfig(steps=a.steps + 1), TrainConfig(seed=1), TrainConfig(key=("other",)),
                  TrainConfig(s=2)):
        assert a.hash() != other.hash()
    for cfg in (a, TrainConfig(d=3, supports=((0, 1), (1, 2)), key=("x", 3)), TrainConfig(d=2, cov=((2, 0), (0, 1)))):
        assert json.loads(json.dumps(cfg.identity())) == cfg.identity()
        assert TrainConfig.from_dict(cfg.identity()) == cfg


def test_members_are_disjoint_across_seeds_and_keys():
    """Members are spawned children of (seed, *key): two --seed values, or two keys, share no member, and the
    prompt streams and initialisations never share a seed either."""
    base = TrainConfig(ensemble=16)
    runs = [base, base.replace(seed=1), base.replace(seed=2), base.replace(key=("trained", "softmax", "H4")),
            base.replace(key=("trained", "softmax", "H2"))]
    seen: list[int] = []
    for cfg in runs:
        seen += list(cfg.seeds) + list(cfg.data_seeds) + [cfg.eval_seed]
    assert len(set(seen)) == len(seen)
    assert TrainConfig(ensemble=3).seeds == base.seeds[:3]  # a larger ensemble extends a smaller one


def test_trained_ensembles_use_the_shared_key():
    from theory.problem import Problem
    from verify.registry import RunContext
    from verify.trained import PROTOCOLS, train_config

    ctx, problem = RunContext(seed=3), Problem(d=5, L=40, sigma2=0.1)
    cfg = train_config(PROTOCOLS["quick"], problem, ctx, n_head=4)
    assert cfg.key == ("trained", "softmax", "H4") and cfg.seed == 3
    lin = train_config(PROTOCOLS["quick"], problem, ctx, n_head=1, model="linear")
    assert lin.key == ("trained", "linear", "H1") and not set(lin.seeds) & set(cfg.seeds)


def test_log_steps_start_dense_then_regular():
    s = log_steps(1000, 100)
    assert s[:4] == [0, 1, 2, 3] and s[-1] == 1000
    assert all(x in s for x in range(0, 1001, 100))
    assert all(b > a for a, b in zip(s, s[1:]))
    assert log_steps(7, 100)[-1] == 7


def test_same_config_same_run_bit_for_bit():
    a, b = train(TrainConfig(**TINY, ensemble=2)), train(TrainConfig(**TINY, ensemble=2))
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)
    np.testing.assert_array_equal(a.trajectory["loss"], b.trajectory["loss"])


def test_ensemble_member_is_the_same_member_of_a_smaller_ensemble():
    """An ensemble is independent runs batched: member e trains the same in any ensemble with more than e members."""
    big = train(TrainConfig(**TINY, seed=5, ensemble=3, dtype="float64"))
    small = train(TrainConfig(**TINY, seed=5, ensemble=2, dtype="float64"))
    for n in ("q", "k", "v", "o"):
        torch.testing.assert_close(getattr(big.model, n)[:2], getattr(small.model, n), rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(big.trajectory["loss"][1:, :2], small.trajectory["loss"][1:], rtol=1e-9)


class _AutogradOnly(EnsembleAttention):
    """The same model without its hand-written backward: the trainer must fall back to autograd."""

    loss_and_grad = None


def test_autograd_path_trains_like_the_handwritten_gradient():
    cfg = TrainConfig(**{**TINY, "steps": 60, "log_every": 20}, ensemble=2, dtype="float64")
    ref = train(cfg)
    model = _AutogradOnly(d=2, n_head=2, seeds=cfg.seeds, dtype=torch.float64)
    res = Trainer(cfg, model=model).run()
    for n in ("q", "k", "v", "o"):
        torch.testing.assert_close(getattr(res.model, n), getattr(ref.model, n), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.final_loss, ref.final_loss, rtol=1e-8)


@pytest.mark.parametrize("opt", ["adam", "adamw", "sgd"])
def test_training_lowers_the_risk(opt):
    cfg = TrainConfig(d=2, L=10, n_head=2, batch=64, steps=600, lr=1e-2 if opt != "sgd" else 0.05,
                      optimizer=opt, log_every=200, eval_prompts=4000, seed=3)
    res = train(cfg)
    init = EnsembleAttention(d=2, n_head=2, seeds=cfg.seeds)
    before, se_b = evaluate(init, L=10, sigma2=0.1, n_prompts=4000, seed=1)
    assert res.final_loss[0] + Z * res.final_loss_se[0] < before[0] - Z * se_b[0]
    assert res.trajectory["omega"].shape == (len(log_steps(600, 200)), 1, 2)


def test_multitask_training_logs_per_task_mu_and_lowers_the_risk():
    cfg = TrainConfig(d=4, L=10, sigma2=0.1, supports=((0, 1), (2, 3)), n_head=2, batch=64, steps=500, lr=1e-2,
                      log_every=250, eval_prompts=4000, seed=1)
    res = train(cfg)
    assert res.model.n_out == 2 and res.trajectory["mu"].shape == (len(log_steps(500, 250)), 1, 2, 2)
    init = EnsembleAttention(d=4, n_head=2, seeds=cfg.seeds, n_out=2)
    before, se_b = evaluate(init, cfg.problem, n_prompts=4000, seed=1)
    assert res.final_loss[0] + Z * res.final_loss_se[0] < before[0] - Z * se_b[0]


def test_evaluate_zero_model_is_the_label_variance():
    m = EnsembleAttention(d=3, n_head=1, seeds=[0], dtype=torch.float64)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
    mean, se = evaluate(m, L=5, sigma2=0.1, n_prompts=20000, seed=2)
    assert abs(mean[0] - 1.1) <= Z * se[0]


def test_multi_output_evaluation_averages_the_tasks():
    """Zero model, SPEC 1.3 with supports of sizes 1 and 3, noiseless query: E y_k^2 = |S_k|, so the risk (mean
    over the tasks) is 2; two models evaluated together see the same prompts."""
    problem = Problem(d=4, L=5, sigma2=0.1, supports=((0,), (1, 2, 3)))
    m = EnsembleAttention(d=4, n_head=1, seeds=[0, 1], n_out=2, dtype=torch.float64)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
    (mean, se), (mean2, _) = evaluate_many([m, m], problem, n_prompts=20000, seed=3)
    assert np.all(np.abs(mean - 2.0) <= Z * se)
    np.testing.assert_array_equal(mean, mean2)
    with pytest.raises(ValueError, match="2 output"):
        evaluate(EnsembleAttention(d=4, n_head=1, seeds=[0]), problem, n_prompts=100, seed=0)


def test_excess_risk_drops_the_noise():
    """Zero model on SPEC 7.1: risk E y_q^2 = 1 + sigma2, excess risk E(beta^T x_q)^2 = 1 on the same prompts."""
    problem = Problem(d=6, L=5, sigma2=0.5, s=2)
    m = EnsembleAttention(d=6, n_head=1, seeds=[0], dtype=torch.float64)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
    full, se = evaluate(m, problem, n_prompts=20000, seed=4)
    exc, se_x = evaluate(m, problem, n_prompts=20000, seed=4, excess=True)
    assert abs(full[0] - 1.5) <= Z * se[0] and abs(exc[0] - 1.0) <= Z * se_x[0]


def test_evaluate_agrees_with_reduced_model_monte_carlo():
    """A model set to the SPEC 2.2 pattern has the reduced model's risk (independent Monte Carlo, Z SE)."""
    omega, mu = [0.13, -0.13], [3.45, -3.45]
    m = pattern_model(omega, mu, d=5)
    mean, se = evaluate(m, L=40, sigma2=0.1, n_prompts=20000, seed=4)
    ref, ref_se = reduced_attention_risk(omega, mu, d=5, L=40, sigma2=0.1, n_prompts=20000, seed=5)
    assert abs(mean[0] - ref) <= Z * math.hypot(se[0], ref_se)


class _NormReadout:
    """A custom readout: the Frobenius norm of each member's Q."""

    def log(self, model):
        return {"q_norm": model.q.detach().flatten(1).norm(dim=1).numpy()}

    def members(self, model):
        return [{"q_norm": float(v)} for v in self.log(model)["q_norm"]]


def test_readouts_feed_the_trajectory_and_the_summary():
    cfg = TrainConfig(**TINY, ensemble=2, seed=7)
    res = Trainer(cfg, readouts=[PatternReadout(), _NormReadout()]).run()
    q_end = res.model.q.detach().flatten(1).norm(dim=1).numpy()
    np.testing.assert_allclose(res.trajectory["q_norm"][-1], q_end)
    doc = json.loads(json.dumps(res.summary()))
    m = doc["members"][1]
    assert m["q_norm"] == pytest.approx(q_end[1])
    assert m["seed"] == cfg.seeds[1] and m["final_loss"] == pytest.approx(res.final_loss[1])
    p = res.patterns
    assert m["eta_eff"] == pytest.approx(p.eta_eff[1]) and m["split"] == bool(p.split[1])
    assert [h["omega"] for h in m["heads"]] == pytest.approx(list(p.omega[1]))
    np.testing.assert_allclose(res.trajectory["omega"][-1], p.omega)
    assert doc["final_loss"] == pytest.approx(np.mean(res.final_loss))
    only = Trainer(cfg, readouts=[_NormReadout()]).run()
    assert "omega" not in only.trajectory and "heads" not in only.summary()["members"][0]


def test_divergence_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    cfg = TrainConfig(**{**TINY, "steps": 400, "log_every": 50, "checkpoint_every": 100})
    tr = Trainer(cfg, tmp_path)
    step, count = tr._eager_step, [0]

    def poisoned():
        step()
        count[0] += 1
        if count[0] >= 230:  # parameters go NaN during the logging window (200, 250]
            with torch.no_grad():
                tr.model.q[0, 0, 0, 0] = float("nan")

    tr._eager_step = poisoned
    with pytest.raises(TrainingDiverged) as exc:
        tr.run()
    msg = str(exc.value)
    assert "diverged" in msg and "between steps 200 and 250" in msg and "step 200" in msg and "\n" not in msg
    state = ck.load_torch(tmp_path / ck.CHECKPOINT)
    assert state["step"] == 200
    assert all(bool(torch.isfinite(v).all()) for v in state["model"].values())
    assert not (tmp_path / ck.SUMMARY).exists()


def test_real_divergence_is_reported():
    cfg = TrainConfig(**{**TINY, "optimizer": "sgd", "lr": 1e4, "model": "linear"})
    with pytest.raises(TrainingDiverged, match="training diverged: non-finite"):
        train(cfg)


@pytest.mark.gpu
def test_cuda_matches_cpu_on_the_same_batch_and_trains():
    """Same weights, same batch: the CUDA loss and hand-written gradients equal the CPU ones to float64
    rounding (the data streams of the two devices differ, so whole runs are compared only for health)."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu_model = EnsembleAttention(d=3, n_head=2, seeds=[0, 1], dtype=torch.float64)
    gpu_model = EnsembleAttention(d=3, n_head=2, seeds=[0, 1], dtype=torch.float64, device="cuda")
    gen = torch.Generator().manual_seed(0)
    Zt, xq, yq = (torch.randn(*shape, generator=gen, dtype=torch.float64) for shape in ((2, 16, 6, 4), (2, 16, 3),
                                                                                       (2, 16, 1)))
    loss_c = cpu_model.loss_and_grad(Zt, xq, yq)
    loss_g = gpu_model.loss_and_grad(Zt.cuda(), xq.cuda(), yq.cuda())
    torch.testing.assert_close(loss_g.cpu(), loss_c, rtol=1e-12, atol=1e-12)
    for (n, pc), pg in zip(cpu_model.named_parameters(), gpu_model.parameters()):
        torch.testing.assert_close(pg.grad.cpu(), pc.grad, rtol=1e-10, atol=1e-12, msg=f"gradient of {n}")
    gpu = Trainer(TrainConfig(**{**TINY, "steps": 2000, "device": "cuda"}))
    res = gpu.run()
    assert gpu._graph is not None, "the CUDA graph was not captured"
    assert np.all(np.isfinite(res.trajectory["omega"])) and np.all(np.isfinite(res.final_loss))
    assert res.trajectory["loss"][-1, 0] < res.trajectory["loss"][1, 0]


@pytest.mark.parametrize("argv, flag", [
    (["--heads", "0"], "--heads"), (["--L", "1"], "--L"), (["--lr", "-1"], "--lr"), (["--model", "rnn"], "--model"),
    (["--ensemble", "0"], "--ensemble"), (["--steps", "0"], "--steps"),
])
def test_train_command_rejects_bad_arguments_with_exit_2(argv, flag, tmp_path, capsys):
    from verify.cli import main

    assert main(["train", *argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("icl-verify train: error: " + flag) and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_train_command_writes_summary_and_reuses_it(tmp_path, capsys):
    from verify.cli import main

    args = ["train", "--d", "2", "--L", "8", "--heads", "2", "--steps", "60", "--batch", "16", "--ensemble", "2",
            "--log-every", "20", "--eval-prompts", "256", "--seed", "3", "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    doc = json.loads((tmp_path / "summary.json").read_text())
    cfg = TrainConfig.from_dict(json.loads((tmp_path / "config.json").read_text())["config"])
    assert [m["seed"] for m in doc["members"]] == list(cfg.seeds) and cfg.seed == 3
    assert len(doc["members"][0]["heads"]) == 2
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "trajectory.npz").exists()
    assert main(args) == 0
    assert "already finished" in capsys.readouterr().out
    assert main([*args[:-3], "--seed", "4", "--out", str(tmp_path), "--no-progress"]) == 2  # different config


def test_bench_reports_both_cases_at_each_thread_count_against_the_faster_baseline(capsys):
    from verify.cli import main

    assert main(["bench", "--json", "--steps", "10", "--rounds", "1", "--no-numerics", "--threads", "1,2"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(c["name"], c["threads"]) for c in doc["cases"]] == [("single", 1), ("ensemble-16", 1),
                                                                 ("single", 2), ("ensemble-16", 2)]
    for c in doc["cases"]:
        assert c["device"] == "cpu" and c["ours_steps_per_s"] > 0 and c["baseline_steps_per_s"] > 0
        both = c["baselines_steps_per_s"]
        assert set(both) == {"authors", "notebook"} and c["baseline_steps_per_s"] == max(both.values())
        assert c["baseline"] == max(both, key=both.get)
        ours, base = c["ours_steps_per_s"], c["baseline_steps_per_s"]
        # the ratio is rounded to 0.01 and computed from the rates before they were rounded to 0.1
        slack = 0.005 + (ours / base) * (0.05 / ours + 0.05 / base) + 1e-9
        assert c["ratio"] == pytest.approx(ours / base, abs=slack)
        assert c["target"] == "ratio >= 8" and c["met"] == (c["ratio"] >= 8)


def test_bench_scaling_covers_the_grid(capsys, monkeypatch):
    from verify.bench import trainer
    from verify.cli import main

    monkeypatch.setattr(trainer, "SCALING", {"d": (2, 3), "L": (8,), "n_head": (1,)})
    assert main(["bench", "--scaling", "--json", "--steps", "30", "--threads", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)["scaling"]
    assert [(r["axis"], r["d"], r["L"], r["n_head"]) for r in rows] == [("d", 2, 40, 4), ("d", 3, 40, 4),
                                                                         ("L", 5, 8, 4), ("n_head", 5, 40, 1)]
    for r in rows:
        assert r["ours_paper_run_s"] == pytest.approx(500_001 / r["ours_steps_per_s"], rel=0.01)


def test_baselines_learn_the_task():
    """Both reference trainers train the paper's model: their loss falls below the zero predictor's 1 + sigma^2."""
    from numerics.baseline import baseline_run

    for name in ("authors", "notebook"):
        run = baseline_run(name, d=2, L=8, n_head=2, batch=64, lr=1e-2, seed=1)
        losses = run.train(300)
        assert np.mean(losses[:10]) > 0.9 and np.mean(losses[-30:]) < 0.75, name
    with pytest.raises(ValueError, match="baseline must be one of authors, notebook"):
        baseline_run("theirs")


def test_numerics_bench_cases_are_well_formed():
    from verify.bench.reduced import bench_flow, bench_montecarlo

    for case in (bench_flow(t_end=50.0, euler_window=1.0), bench_montecarlo(n_prompts=2000)):
        assert {"name", "device", "ours", "baseline", "unit", "ratio"} <= set(case)
        assert case["ours"] > 0 and case["baseline"] > 0 and case["ratio"] > 0
