"""Incremental text with stop sequences: what may be emitted now, and where a stop ends it."""

from __future__ import annotations

from collections.abc import Sequence


class StopTextBuffer:
    """Tracks the decoded text of one request and emits only text that cannot turn into a stop.

    A stop sequence may arrive split over several tokens, so the tail of the text that is a
    prefix of some stop sequence is held back until it either completes a stop (and is dropped)
    or stops being a candidate. A trailing U+FFFD (half of a multi-byte character) is held too.
    """

    def __init__(self, stop: Sequence[str]) -> None:
        self._stop = tuple(stop)
        self._emitted = 0
        self.stopped = False

    def update(self, full_text: str) -> str:
        """Feed the whole decoded text so far; return the new text safe to emit."""
        if self.stopped:
            return ""
        search_from = max(0, self._emitted - max((len(s) for s in self._stop), default=0))
        cut = -1
        for s in self._stop:
            at = full_text.find(s, search_from)
            if at != -1 and (cut == -1 or at < cut):
                cut = at
        if cut != -1:
            self.stopped = True
            return self._take(full_text, cut)
        safe = len(full_text) - self._held_suffix(full_text)
        if full_text[:safe].endswith("\ufffd"):
            safe -= 1
        return self._take(full_text, safe)

    def flush(self, full_text: str) -> str:
        """At the end of generation: emit whatever was held back (unless a stop ended it)."""
        if self.stopped:
            return ""
        return self._take(full_text, len(full_text))

    def _take(self, text: str, end: int) -> str:
        if end <= self._emitted:
            return ""
        piece = text[self._emitted : end]
        self._emitted = end
        return piece

    def _held_suffix(self, text: str) -> int:
        longest = 0
        for s in self._stop:
            for n in range(min(len(s) - 1, len(text)), longest, -1):
                if text.endswith(s[:n]):
                    longest = n
                    break
        return longest
