"""Grading a class: a rubric's points, a folder of answers into a grade sheet, answer sheets.

Built on `handgrad.grade`, which judges one answer step by step; nothing here judges a value.
"""
