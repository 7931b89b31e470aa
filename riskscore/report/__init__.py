"""Review reports: self-contained HTML pages for officers and analysts."""

from riskscore.report.builder import ReviewBatch, ReviewResult, build_review, write_review

__all__ = ["ReviewBatch", "ReviewResult", "build_review", "write_review"]
