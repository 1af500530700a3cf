"""The online trainer: configuration checks, the prompt stream, seeds, determinism, logging, divergence."""
import json
import math

import numpy as np
import pytest
import torch

from numerics import checkpoint as ck
from numerics.attention import EnsembleAttention
from numerics.montecarlo import reduced_attention_risk
from numerics.trainer import (PromptStream, TrainConfig, Trainer, TrainingDiverged, _log_steps, evaluate,
                              summary_dict, train)

TINY = dict(d=2, L=8, sigma2=0.1, n_head=2, batch=32, steps=300, log_every=100, eval_prompts=512)


@pytest.mark.parametrize("kw, match", [
    ({"n_head": 0}, r"n_head must be an integer >= 1, got 0"),
    ({"L": 1}, r"L must be an integer >= 2, got 1"),
    ({"lr": -1}, r"lr must be a finite number > 0.0, got -1"),
    ({"model": "mlp"}, r"model must be one of softmax, linear, linear-normalised, got 'mlp'"),
    ({"optimizer": "lion"}, "optimizer must be one of"),
    ({"steps": 0}, "steps must be"),
    ({"ensemble": 0}, "ensemble must be"),
    ({"betas": (0.9, 1.0)}, "betas"),
    ({"dtype": "float16"}, "dtype must be one of"),
    ({"device": "tpu"}, "device must be cpu or cuda"),
])
def test_config_rejects_bad_values_in_one_line(kw, match):
    with pytest.raises(ValueError, match=match) as exc:
        TrainConfig(**kw)
    assert "\n" not in str(exc.value)


def test_hash_covers_result_fields_only():
    a = TrainConfig()
    assert a.hash() == TrainConfig(device="cpu", checkpoint_every=7, threads=0).hash()
    assert a.hash() != TrainConfig(steps=a.steps + 1).hash()
    assert a.hash() != TrainConfig(seed=1).hash()
    assert json.loads(json.dumps(a.identity())) == a.identity()
    assert TrainConfig.from_dict(a.identity()) == a


def test_log_steps_start_dense_then_regular():
    s = _log_steps(1000, 100)
    assert s[:4] == [0, 1, 2, 3] and s[-1] == 1000
    assert all(x in s for x in range(0, 1001, 100))
    assert all(b > a for a, b in zip(s, s[1:]))
    assert _log_steps(7, 100)[-1] == 7


def test_prompt_stream_is_spec_1_1():
    """Labels are beta^T x plus N(0, sigma^2) noise with beta ~ N(0, I/d) (checked to 4 standard errors)."""
    d, L, sigma2, B = 3, 6, 0.25, 4000
    st = PromptStream(d=d, L=L, sigma2=sigma2, batch=B, seeds=[0, 1], device="cpu", dtype=torch.float64)
    Z, xq, yq = st.sample()
    beta = st.qry[..., d + 1:] / math.sqrt(d)  # (E, B, d)
    resid = Z[..., d] - torch.einsum("ebld,ebd->ebl", Z[..., :d], beta)
    resid_q = yq[..., 0] - (xq * beta).sum(-1)
    for r in (resid.flatten(), resid_q.flatten()):
        n = r.numel()
        assert abs(float(r.mean())) <= 4 * math.sqrt(sigma2 / n)
        assert abs(float(r.var()) - sigma2) <= 4 * sigma2 * math.sqrt(2 / n)
    for v in (Z[..., :d].flatten(), xq.flatten()):
        assert abs(float(v.var()) - 1) <= 4 * math.sqrt(2 / v.numel())
    b2 = (beta**2).sum(-1).flatten()  # E|beta|^2 = 1, Var = 2/d
    assert abs(float(b2.mean()) - 1) <= 4 * math.sqrt(2 / d / b2.numel())
    assert not torch.equal(Z[0], Z[1])  # members draw different prompts


def test_same_seed_same_run_bit_for_bit():
    a, b = train(TrainConfig(**TINY, ensemble=2)), train(TrainConfig(**TINY, ensemble=2))
    for p, q in zip(a.model.parameters(), b.model.parameters()):
        assert torch.equal(p, q)
    np.testing.assert_array_equal(a.trajectory["loss"], b.trajectory["loss"])


def test_ensemble_member_is_the_standalone_run_with_its_seed():
    ens = train(TrainConfig(**TINY, seed=5, ensemble=3, dtype="float64"))
    alone = train(TrainConfig(**TINY, seed=6, ensemble=1, dtype="float64"))
    for n in ("q", "k", "v", "o"):
        torch.testing.assert_close(getattr(ens.model, n)[1], getattr(alone.model, n)[0], rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(ens.trajectory["loss"][1:, 1], alone.trajectory["loss"][1:, 0], rtol=1e-9)


@pytest.mark.parametrize("opt", ["adam", "adamw", "sgd"])
def test_training_lowers_the_risk(opt):
    cfg = TrainConfig(d=2, L=10, n_head=2, batch=64, steps=600, lr=1e-2 if opt != "sgd" else 0.05,
                      optimizer=opt, log_every=200, eval_prompts=4000, seed=3)
    res = train(cfg)
    init = EnsembleAttention(d=2, n_head=2, seeds=[3])
    before, se_b = evaluate(init, L=10, sigma2=0.1, n_prompts=4000, seed=1)
    assert res.final_loss[0] + 4 * res.final_loss_se[0] < before[0] - 4 * se_b[0]
    assert res.trajectory["omega"].shape == (len(_log_steps(600, 200)), 1, 2)


def test_evaluate_zero_model_is_the_label_variance():
    m = EnsembleAttention(d=3, n_head=1, seeds=[0], dtype=torch.float64)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
    mean, se = evaluate(m, L=5, sigma2=0.1, n_prompts=20000, seed=2)
    assert abs(mean[0] - 1.1) <= 4 * se[0]


def test_evaluate_agrees_with_reduced_model_monte_carlo():
    """A model set to the SPEC 2.2 pattern has the reduced model's risk (independent Monte Carlo, 4 SE)."""
    from tests.test_attention import _pattern_model

    omega, mu = [0.13, -0.13], [3.45, -3.45]
    m = _pattern_model(omega, mu, d=5)
    mean, se = evaluate(m, L=40, sigma2=0.1, n_prompts=20000, seed=4)
    ref, ref_se = reduced_attention_risk(omega, mu, d=5, L=40, sigma2=0.1, n_prompts=20000, seed=5)
    assert abs(mean[0] - ref) <= 4 * math.hypot(se[0], ref_se)


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


def test_summary_document():
    res = train(TrainConfig(**TINY, ensemble=2, seed=7))
    doc = json.loads(json.dumps(res.summary()))
    assert set(doc) >= {"final_loss", "members"}
    assert [m["seed"] for m in doc["members"]] == [7, 8]
    m = doc["members"][0]
    assert set(m) >= {"seed", "final_loss", "eta_eff", "zero_sum", "heads"}
    assert len(m["heads"]) == 2
    assert set(m["heads"][0]) == {"omega", "mu", "diag_ratio", "homogeneity", "ov_last_ratio", "dummy"}
    assert doc["final_loss"] == pytest.approx(np.mean(res.final_loss))
    again = summary_dict(res.config, res.patterns, res.final_loss, res.final_loss_se)
    assert again["members"] == doc["members"]


@pytest.mark.gpu
def test_cuda_matches_cpu_on_the_same_batch_and_trains():
    """Same weights, same batch: the CUDA loss and hand-written gradients equal the CPU ones to float64
    rounding (the data streams of the two devices differ, so whole runs are compared only for health)."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu_model = EnsembleAttention(d=3, n_head=2, seeds=[0, 1], dtype=torch.float64)
    gpu_model = EnsembleAttention(d=3, n_head=2, seeds=[0, 1], dtype=torch.float64, device="cuda")
    gen = torch.Generator().manual_seed(0)
    Z, xq, yq = (torch.randn(*shape, generator=gen, dtype=torch.float64) for shape in ((2, 16, 6, 4), (2, 16, 3),
                                                                                      (2, 16, 1)))
    loss_c = cpu_model.loss_and_grad(Z, xq, yq)
    loss_g = gpu_model.loss_and_grad(Z.cuda(), xq.cuda(), yq.cuda())
    torch.testing.assert_close(loss_g.cpu(), loss_c, rtol=1e-12, atol=1e-12)
    for (n, pc), pg in zip(cpu_model.named_parameters(), gpu_model.parameters()):
        torch.testing.assert_close(pg.grad.cpu(), pc.grad, rtol=1e-10, atol=1e-12, msg=f"gradient of {n}")
    gpu = train(TrainConfig(**{**TINY, "steps": 2000, "device": "cuda"}))
    assert np.all(np.isfinite(gpu.trajectory["omega"])) and np.all(np.isfinite(gpu.final_loss))


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
    assert [m["seed"] for m in doc["members"]] == [3, 4] and len(doc["members"][0]["heads"]) == 2
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "trajectory.npz").exists()
    assert main(args) == 0
    assert "already finished" in capsys.readouterr().out
    assert main([*args[:-3], "--seed", "4", "--out", str(tmp_path), "--no-progress"]) == 2  # different config


def test_bench_reports_both_cases(capsys):
    from verify.cli import main

    assert main(["bench", "--json", "--steps", "10", "--rounds", "1", "--no-numerics"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in doc["cases"]] == ["single", "ensemble-16"]
    for c in doc["cases"]:
        assert set(c) == {"name", "device", "ours_steps_per_s", "baseline_steps_per_s", "ratio"}
        assert c["device"] == "cpu" and c["ours_steps_per_s"] > 0 and c["baseline_steps_per_s"] > 0


def test_numerics_bench_cases_are_well_formed():
    from verify.bench_reduced import bench_flow, bench_montecarlo

    for case in (bench_flow(t_end=50.0, euler_window=1.0), bench_montecarlo(n_prompts=2000)):
        assert {"name", "device", "ours", "baseline", "unit", "ratio"} <= set(case)
        assert case["ours"] > 0 and case["baseline"] > 0 and case["ratio"] > 0
