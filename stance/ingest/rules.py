"""The line rules of raw pages: site chrome, post headers, quote starts,
headings, numbered comments (README "Parsing rules").

Each rule is a name and a pattern; the page parser (`page.py`) applies them
in order. A rule matches only a line of at most MAX_RULE_CHARS characters, so
a long paragraph is never taken for chrome."""

from __future__ import annotations

import re
from enum import StrEnum


class Rule(StrEnum):
    """The rules the page parser acts on beyond dropping the line (the other
    rules are known by their names only). A member is its name: `Dropped.rule`
    and `--explain` show it as before."""

    BYLINE = "byline"
    DATELINE = "dateline"
    COPYRIGHT = "copyright"
    ACTION_LINK = "action link"
    FORUM_PROFILE_FIELD = "forum profile field"
    MAIL_HEADER = "mail header"
    THREAD_STARTER = "thread starter"
    POST_AUTHOR_LINE = "post author line"
    MAIL_QUOTE_HEADER = "mail quote header"


_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"

_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"

_DATE = (
    rf"(?:{_DAY},?\s+)?(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?(?:\s+'?\d{{2,4}})?"
    rf"|\d{{1,2}}\s+{_MONTH}(?:\s+\d{{2,4}})?|\d{{1,4}}[/.-]\d{{1,2}}[/.-]\d{{1,4}})"
)

_TIME = r"\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp]\.?[Mm]\.?)?(?:\s*[A-Z]{2,4})?"

# (rule name, pattern) for chrome lines, tried in order on the stripped line.
CHROME_RULES: list[tuple[str, re.Pattern]] = [
    (name, re.compile(pattern, re.I))
    for name, pattern in [
        (
            "weather widget",
            r"^(?:•\s*)?(?:humidity|wind|sunrise|sunset|"
            r"today in [\w .,'-]+|-?\d+\s*°\s*[cf]?)$",
        ),
        ("date line", rf"^(?:{_TIME}\s*)?{_DATE}(?:[\s,-]+(?:{_DAY}|{_TIME}))*\.?$"),
        ("date line", rf"^(?:{_DAY},\s+)?{_DATE}\s*(?:at\s+)?{_TIME}?$"),
        (
            "date line",
            r"^(?:edited\s+)?\d+\s+(?:second|minute|hour|day|week|month|year)s?"
            r"\s+ago$",
        ),
        (Rule.DATELINE, r"^[\w ]{0,30}\bupdated:\s.*$"),
        ("time line", rf"^{_TIME}\s+\w{{2,4}}\s+\d{{1,2}}\s+{_MONTH}\s+\d{{4}}$"),
        (
            "vote count",
            r"^[+-]?\d[\d,.]*\s*k?\s*(?:points?|upvotes?|votes?|likes?|"
            r"reactions?|score)?(?:\s*\([^)]*\))?$",
        ),
        ("vote count", r"^(?:upvotes?|downvotes?|votes?|points?|score hidden)$"),
        ("comment count", r"^\d[\d,.]*\s*k?\s+(?:comments?|replies)\b.*$"),
        (
            "community stats",
            r"^\d[\d,.]*\s*k?\s+(?:readers|users here now|subscribers|"
            r"members|online|members online)$",
        ),
        (
            Rule.ACTION_LINK,
            r"^(?:reply|share|report|save|follow|hide|permalink|parent|"
            r"context|quote|like|flag|link|source|embed|edit(?:-\d+)?|"
            r"expand full comment|view all comments|view the rest of the comments|"
            r"continue this thread|load more comments|show more replies|"
            r"highlight story|click to expand\.*|sort by:?.*|reply\s*\|.*|"
            r"you are viewing a single comment's thread|read more\.*)$",
        ),
        (Rule.ACTION_LINK, r"^\(excerpt\)\s*read more at .*$"),
        (Rule.COPYRIGHT, r"^(?:©|\(c\)\s|copyright\b|all rights reserved).*$"),
        ("disclaimer", r"^(?:disclaimer:|all materials posted herein).*$"),
        (
            "site chrome",
            r"^(?:welcome to .*(?:log in|sign up|register).*|ad:\s.*|"
            r"log in|sign up|register|moderators|founded \d+ \w+ ago|"
            r"this post was submitted on .*|posted by$|"
            r"welcome to .+!?|these are our rules:?)$",
        ),
        ("comment sort", r"^\d[\d,.]*\s*k?\s+comments? sorted by\b.*$"),
        ("image", r"^(?:\[img\]|\[image\]|\S+\.(?:jpe?g|png|gif|webp|svg))$"),
        ("bare link", r"^(?:<?https?://\S+>?|www\.\S+)$"),
        ("deleted", r"^\[(?:deleted|removed)\]$"),
        (
            Rule.FORUM_PROFILE_FIELD,
            r"^(?:joined|messages|reaction score|likes received|"
            r"trophy points|location|gender|political leaning|posts|points|karma|"
            r"member since|ratings?|country|thanks|trophies)\s*:?\s*[\d,.]*$",
        ),
        (
            Rule.BYLINE,
            r"^by\s+[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*){0,3}(?:\s+in\s+[A-Z]\w+)?$",
        ),
        ("page title", r"^[^.!?]{3,120}\s\|\s[^.!?]{1,60}(?:\s\|\s[^.!?]{1,60})*$"),
        ("source label", r"^source:$"),
        ("lone punctuation", r"^[\s|\-–—_=*•·.…~#>]+$"),
        ("subreddit header", r"^r/\w+(?:\s+[\w ]{0,30})?\s+" + _DATE + r"$"),
        (
            Rule.MAIL_HEADER,
            r"^(?:subject|to|cc|reply-to|message-id|in-reply-to|"
            r"references|sender|list-\w+):\s.*$",
        ),
    ]
]

# Post headers: each gives a speaker and/or timestamp and opens a new turn.
HEADER_RULES: list[tuple[str, str, re.Pattern]] = [
    (name, kind, re.compile(pattern, re.I))
    for name, kind, pattern in [
        ("forum post header", "post", r"^post by (?P<speaker>\S+) on (?P<ts>.+)$"),
        ("forum post header", "post", r"^posted on (?P<ts>.+?) by (?P<speaker>\S+)$"),
        ("forum post header", "post", r"^posted:\s+(?P<ts>.+)$"),
        (
            Rule.THREAD_STARTER,
            "post",
            r"^discussion in '[^']*' started by (?P<speaker>[^,]+),\s*(?P<ts>.+?)\.?$",
        ),
        (
            Rule.MAIL_HEADER,
            "message",
            r"^date:\s+(?P<ts>.+?)\s+from:\s+(?P<speaker>[^<]+?)\s*(?:<[^>]*>)?"
            r"(?:\s+subject:.*)?$",
        ),
        (Rule.MAIL_HEADER, "message", r"^from:\s+(?P<speaker>[^<]+?)\s*(?:<[^>]*>)?$"),
        (Rule.MAIL_HEADER, "message", r"^date:\s+(?P<ts>.+)$"),
        (
            "reddit header",
            "comment",
            r"^(?:r/\w+\s*•\s*)?u/(?P<speaker>\[deleted\]|[\w-]+)"
            r"(?:\s*•)?(?:\s+(?P<flair>[^•]*?))?(?:\s*•)?\s*(?P<ts>" + _DATE + r")?"
            r"(?:\s+edited.*)?$",
        ),
        (
            "lemmy header",
            "comment",
            r"^•\s*@?(?P<speaker>[\w.-]+(?:@[\w.-]+)?)(?:\s*\[[^\]]*\])?$",
        ),
        ("blog comment header", "comment", r"^(?P<speaker>[\w .-]{1,40}) said\.\.\.$"),
        (Rule.POST_AUTHOR_LINE, "post", r"^by (?P<speaker>[\w.-]+)$"),
    ]
]

QUOTE_START = [
    (Rule.MAIL_QUOTE_HEADER, re.compile(r"^(?:on|at)\s.+\bwrote:$", re.I)),
    ("forum quote", re.compile(r"^(?:quote:?|originally posted by (?P<by>.+))$", re.I)),
    ("forum quote", re.compile(r"^(?P<by>.{1,60}?) (?:wrote|said):$", re.I)),
]

HEADING = re.compile(r"^(=={1,4})\s*(?P<title>.+?)\s*\1$")

NUMBERED = re.compile(
    r"^(?P<indent>\s*)(?:#(?P<n1>\d{1,5})|(?P<n2>\d{1,4})\.)(?:\s+|$)"
    r"(?P<rest>.*)$"
)

REFERENCE_SECTIONS = {
    "see also",
    "references",
    "reviews",
    "external links",
    "further reading",
    "notes",
    "bibliography",
    "sources",
    "literature",
    "footnotes",
}

SIDEBAR_START = re.compile(
    r"^(?:these are our rules:?|community rules:?|rules:)$", re.I
)

SIDEBAR_END = re.compile(r"^(?:founded \d+ \w+ ago|moderators|created by.*)$", re.I)

TERMINAL = tuple(".!?:;…\"”’')»]") + tuple("。！？；：」』）…")

_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def _heading(line: str):
    return HEADING.match(line) if _rule_sized(line) else None


# Scripts written without spaces between words (Han, kana, Thai, Lao, Khmer,
# Myanmar): length rules count their characters, each as a word, or a
# Chinese paragraph is one "word" and dropped as a fragment.
_NO_SPACE_SCRIPT = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]"
)


def word_count(line: str, at_most: int) -> int:
    """Words in `line`, counting each character of a script without spaces as
    one; counting stops past `at_most` (a line may be a whole page)."""
    words = line.split(maxsplit=at_most)
    if len(words) > at_most:
        return len(words)
    n = len(words)
    for w in words:
        chars = len(_NO_SPACE_SCRIPT.findall(w[: 4 * at_most]))
        n += max(0, chars - 1)  # the word itself was counted once
        if n > at_most:
            break
    return n


def _is_fragment(line: str) -> bool:
    return word_count(line, 4) < 4 and not line.endswith(TERMINAL)


def _is_title(line: str) -> bool:
    words = line.split(maxsplit=15)
    if not (4 <= len(words) <= 14) or line.endswith(TERMINAL):
        return False
    if _NO_SPACE_SCRIPT.search(line):
        return False  # no capitals to tell a title by
    long_words = [w for w in _WORD.findall(line) if len(w) >= 4]
    if not long_words:
        return True
    return sum(w[0].isupper() for w in long_words) / len(long_words) >= 0.6


# Chrome, headers, headings and quote headers are short lines; a longer line is
# text even when it starts like one ("this post was submitted on ..." followed
# by a whole page without line breaks). Whitespace-free lines (links, images)
# may be longer.
MAX_RULE_CHARS = 400


def _rule_sized(line: str) -> bool:
    return len(line) <= MAX_RULE_CHARS or (
        len(line) <= 8 * MAX_RULE_CHARS and not any(c.isspace() for c in line)
    )


def classify_chrome(line: str) -> str | None:
    if not _rule_sized(line):
        return None
    for name, pattern in CHROME_RULES:
        if pattern.match(line):
            return name
    return None


def _match_header(line: str):
    if not _rule_sized(line):
        return None
    for name, kind, pattern in HEADER_RULES:
        m = pattern.match(line)
        if m:
            return name, kind, m.groupdict()
    return None
