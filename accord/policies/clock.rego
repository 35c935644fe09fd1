# Time as the policy sees it: the request time, never the clock.
#
# input.time.seconds is the request time (UTC epoch seconds). Time-of-day windows use a fixed
# UTC offset from data, never a time-zone database (Go's and Rust's could differ). Spending
# windows are aggregated by the evaluator (input.spent), not here.
package accord.clock

day_names := ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

# local_time(offset_minutes): {"clock": "HH:MM", "day": "mon".."sun"} of the request time.
local_time(offset_minutes) := {"clock": sprintf("%02d:%02d", [hours, minutes]), "day": day_names[weekday]} if {
	local := input.time.seconds + (offset_minutes * 60)
	second_of_day := local % 86400
	minute_of_day := (second_of_day - (second_of_day % 60)) / 60
	minutes := minute_of_day % 60
	hours := (minute_of_day - minutes) / 60
	weekday := (((local - second_of_day) / 86400) + 3) % 7 # 1970-01-01 was a Thursday
}

# within(tod): the request time is inside a time-of-day window
#   {"start": "HH:MM", "end": "HH:MM", "days": ["mon", ...], "utc_offset_minutes": n}
# start inclusive, end exclusive; an end before the start wraps past midnight; `days` are
# checked against the local day of the request itself.
within(tod) if {
	local := local_time(object.get(tod, "utc_offset_minutes", 0))
	local.day in object.get(tod, "days", day_names)
	in_hours(tod.start, tod.end, local.clock)
}

in_hours(start, end, clock) if {
	start < end
	start <= clock
	clock < end
}

in_hours(start, end, clock) if {
	start > end
	clock >= start
}

in_hours(start, end, clock) if {
	start > end
	clock < end
}
