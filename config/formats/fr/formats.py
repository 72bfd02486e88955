# French formats (FORMAT_MODULE_PATH), as written in Canada: "1er décembre 2026, 6 h 06",
# "10 000". Formats not named here come from Django's own French module. The "1er" of the
# first of the month is added by the long_date and long_datetime filters
# (campaigns/templatetags/campaign_tags.py): a format string cannot write it.
DATE_FORMAT = "j F Y"
TIME_FORMAT = "G\xa0\\h\xa0i"
DATETIME_FORMAT = "j F Y, G\xa0\\h\xa0i"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d G\xa0\\h\xa0i"
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"  # non-breaking space
NUMBER_GROUPING = 3
