"""_util package."""
