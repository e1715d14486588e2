"""English as written in Europe: day before month, 24-hour clock.

Django's own ``en`` formats are American (``12/03/2026`` for 3 December,
"Dec. 17, 2026"). PREPARE's users are European, so English dates are
day-first; the other languages keep Django's formats for them.
"""

DATE_FORMAT = "j F Y"  # 3 December 2026
TIME_FORMAT = "H:i"
DATETIME_FORMAT = "j F Y, H:i"  # 3 December 2026, 08:57
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
SHORT_DATE_FORMAT = "d/m/Y"  # 03/12/2026
SHORT_DATETIME_FORMAT = "j M Y, H:i"  # 17 Dec 2026, 08:57
FIRST_DAY_OF_WEEK = 1  # Monday

# Date inputs send ISO dates; typed dates are read day-first.
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y"]
TIME_INPUT_FORMATS = ["%H:%M", "%H:%M:%S", "%H:%M:%S.%f"]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
]
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
