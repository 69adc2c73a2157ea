from gunwatch.bench.interleaved import interleaved_median_ms


def test_each_call_runs_once_a_round_in_turn_and_only_timed_rounds_count() -> None:
    order: list[str] = []
    ms = interleaved_median_ms({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, rounds=3, warmup=2)
    assert order == ["a", "b"] * 5
    assert set(ms) == {"a", "b"} and all(value >= 0 for value in ms.values())
