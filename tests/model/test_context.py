"""Thread-aware score adjustment."""

import numpy as np
import pytest

from stance.core.thread import Turn
from stance.model.context import thread_adjust

CLASSES = ["pro", "con", "neutral"]
SIDES = ["pro", "con"]


def _turn(i, speaker=None, reply_to=None, conv="c"):
    return Turn(
        id=f"t{i}",
        speaker=speaker,
        conversation_id=conv,
        reply_to=reply_to,
        timestamp=None,
        text=f"turn {i}",
        meta={},
    )


def test_no_weights_is_the_identity():
    turns = [_turn(0, "a"), _turn(1, "a", "t0")]
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    out = thread_adjust(turns, p, CLASSES, SIDES, speaker_weight=0, rebuttal_weight=0)
    assert np.allclose(out, p)


def test_a_speakers_other_turns_pull_an_unsure_turn_their_way():
    turns = [_turn(0, "ann"), _turn(1, "bob"), _turn(2, "ann"), _turn(3, "ann")]
    p = np.array(
        [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.38, 0.40, 0.22], [0.85, 0.1, 0.05]]
    )
    out = thread_adjust(turns, p, CLASSES, SIDES, speaker_weight=0.5, rebuttal_weight=0)
    assert p[2].argmax() == 1 and out[2].argmax() == 0
    assert np.allclose(out[1], p[1])  # bob has no other turn
    assert np.allclose(out.sum(axis=1), 1)


def test_a_reply_leans_against_its_parents_side_and_neutral_is_untouched():
    turns = [_turn(0, "ann"), _turn(1, "bob", reply_to="t0")]
    p = np.array([[0.9, 0.05, 0.05], [0.4, 0.38, 0.22]])
    out = thread_adjust(turns, p, CLASSES, SIDES, speaker_weight=0, rebuttal_weight=0.5)
    assert out[1].argmax() == 1
    assert np.allclose(out[0], p[0])  # the root has no parent
    # a reply to a neutral parent leans neutral; its two sides keep their ratio
    p2 = np.array([[0.05, 0.05, 0.9], [0.4, 0.38, 0.22]])
    out2 = thread_adjust(
        turns, p2, CLASSES, SIDES, speaker_weight=0, rebuttal_weight=0.5
    )
    assert out2[1].argmax() == 2
    assert out2[1][0] / out2[1][1] == pytest.approx(0.4 / 0.38)


def test_rows_must_match_turns():
    with pytest.raises(ValueError):
        thread_adjust([_turn(0)], np.ones((2, 3)) / 3, CLASSES, SIDES)
