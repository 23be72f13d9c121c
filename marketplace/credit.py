"""The credit grades the store shows and filters on.

Industry bodies publish their own methodologies, but the store compares grades on
one scale, the ten letters of Chinese credit-rating practice from AAA (best) to D
(default). The ratings app writes a publisher's grade and its rank through
marketplace's services; search asks for "at least" a grade by rank.
"""

GRADES: tuple[str, ...] = ("AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D")


def grade_rank(grade: str) -> int:
    """Higher is better: AAA is 10, D is 1. Unknown grades raise ValueError."""
    return len(GRADES) - GRADES.index(grade)
