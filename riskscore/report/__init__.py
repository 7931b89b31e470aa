"""Review reports: self-contained HTML pages for officers and analysts."""

from riskscore.report.builder import ReviewResult, build_review

__all__ = ["ReviewResult", "build_review"]
