import dataclasses

import pytest

from sage_client.codec.sampling import SAMPLING_FIELDS
from sage_llm.errors import InvalidParameterError
from sage_llm.sampling import SamplingParams


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -0.1),
        ("temperature", float("nan")),
        ("top_p", 0.0),
        ("top_p", 1.5),
        ("top_k", -1),
        ("max_tokens", 0),
        ("stop", [""]),
        ("seed", -3),
        ("repetition_penalty", 0.0),
        ("presence_penalty", 2.5),
        ("frequency_penalty", -2.5),
    ],
)
def test_out_of_range_value_names_the_field(field: str, value: object) -> None:
    with pytest.raises(InvalidParameterError) as err:
        SamplingParams(**{field: value})  # type: ignore[arg-type]
    assert err.value.field == field
    assert field in str(err.value)


def test_unknown_key_from_dict_is_rejected_by_name() -> None:
    with pytest.raises(InvalidParameterError) as err:
        SamplingParams.from_dict({"temprature": 0.5})
    assert err.value.field == "temprature"


def test_stop_list_becomes_a_tuple_and_zero_temperature_is_greedy() -> None:
    params = SamplingParams(temperature=0, stop=["\n", "END"])
    assert params.stop == ("\n", "END")
    assert params.greedy


def test_fields_are_the_protos() -> None:
    """The servicer, the SDK and the engines name the same parameters: llm.proto's SamplingParams."""
    assert tuple(f.name for f in dataclasses.fields(SamplingParams)) == SAMPLING_FIELDS
