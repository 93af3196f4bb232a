"""FFW's gates, temperature schedule and MI penalty against closed forms."""

import math

import pytest
import torch

from earlybias.surgeon.gates import TemperatureSchedule, final_mask, gate, mutual_information


def test_gate_is_the_clamped_two_sigmoid_and_one_at_initialisation():
    m = torch.tensor([-50.0, -1.0, 0.0, 0.5, 3.0])
    g = gate(m, 1.0)
    assert g[0] == pytest.approx(0.0, abs=1e-12) and g[2] == 1.0 and g[3] == 1.0 and g[4] == 1.0
    assert g[1].item() == pytest.approx(2 / (1 + math.e))  # 2 sigmoid(-1)
    # A lower temperature sharpens the gate towards the step m >= 0.
    assert gate(torch.tensor([-1.0]), 1e-3).item() == pytest.approx(0.0, abs=1e-12)


def test_gate_gradient_is_that_of_the_unclamped_two_sigmoid():
    m = torch.tensor([-2.0, 0.0, 1.5], requires_grad=True)
    gate(m, 0.5).sum().backward()
    s = torch.sigmoid(m.detach() / 0.5)
    expected = 2 * s * (1 - s) / 0.5  # chain rule through m / T
    torch.testing.assert_close(m.grad, expected)
    assert m.grad[2] > 0  # a gate already clamped at 1 can still be pushed down


def test_final_mask_keeps_exactly_the_vanilla_weights():
    w = torch.randn(64, 32)
    m = torch.randn(64, 32)
    masked = w * final_mask(m)
    keep = m >= 0
    assert torch.equal(masked[keep], w[keep])  # bit for bit: multiplied by exactly 1.0
    assert torch.all(masked[~keep] == 0)


def test_mutual_information_is_one_for_a_perfect_readout_and_zero_for_none():
    bias = torch.arange(4).repeat(25)  # balanced, K = 4
    perfect = 50.0 * torch.nn.functional.one_hot(bias, 4).float()
    assert mutual_information(bias, perfect).item() == pytest.approx(1.0, abs=1e-6)
    constant = torch.zeros(100, 4)  # the head says the same for every image
    assert mutual_information(bias, constant).item() == pytest.approx(0.0, abs=1e-6)


def test_mutual_information_matches_a_two_by_two_closed_form():
    # Two classes, half each; the head puts probability 0.8 on the right class for every image:
    # J = [[0.4, 0.1], [0.1, 0.4]], marginals 1/2, I = 2 (0.4 log 1.6 + 0.1 log 0.4) / log 2.
    bias = torch.tensor([0, 1] * 50)
    logit = math.log(0.8 / 0.2)
    logits = torch.stack([torch.where(bias == 0, logit, 0.0), torch.where(bias == 1, logit, 0.0)], dim=1)
    expected = 2 * (0.4 * math.log(1.6) + 0.1 * math.log(0.4)) / math.log(2)
    assert mutual_information(bias, logits).item() == pytest.approx(expected, rel=1e-5)


def test_temperature_falls_tenfold_after_more_than_patience_epochs_without_five_percent_gain():
    schedule = TemperatureSchedule(patience=5, threshold=0.05)
    assert schedule.step(1.0) == (1.0, False)  # sets the best
    for _ in range(5):
        assert schedule.step(0.97) == (1.0, False)  # within 5 % of the best: no improvement
    assert schedule.step(0.97) == (pytest.approx(0.1), True)  # the sixth such epoch
    assert schedule.step(0.5) == (pytest.approx(0.1), False)  # a real improvement resets the count


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="temperature"):
        gate(torch.zeros(2), 0.0)
    with pytest.raises(ValueError, match="logits"):
        mutual_information(torch.zeros(3, dtype=torch.long), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="patience"):
        TemperatureSchedule(patience=-1)


def test_gates_and_mi_of_many_models_equal_each_model_alone():
    g = torch.Generator().manual_seed(0)
    m = torch.randn(3, 4, 5, generator=g)
    temperature = torch.tensor([1.0, 0.1, 1e-3])
    batched = gate(m, temperature)
    for i in range(3):
        torch.testing.assert_close(batched[i], gate(m[i], float(temperature[i])))
    with pytest.raises(ValueError, match="one value > 0 per model"):
        gate(m, torch.tensor([1.0, 0.0, 1.0]))
    logits = torch.randn(3, 40, 4, generator=g)
    shared = torch.randint(0, 4, (40,), generator=g)
    own = torch.randint(0, 4, (3, 40), generator=g)
    for i in range(3):
        assert mutual_information(shared, logits)[i].item() == pytest.approx(
            mutual_information(shared, logits[i]).item(), rel=1e-6
        )
        assert mutual_information(own, logits)[i].item() == pytest.approx(
            mutual_information(own[i], logits[i]).item(), rel=1e-6
        )
