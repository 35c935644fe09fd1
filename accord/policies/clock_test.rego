package accord.clock_test

business_hours := {"start": "08:00", "end": "18:00", "days": ["mon", "tue", "wed", "thu", "fri"]}

night_shift := {"start": "22:00", "end": "06:00"}

test_local_time_utc if {
	data.accord.clock.local_time(0) == {"clock": "10:00", "day": "mon"} with input.time.seconds as data.accord.testing.monday_10am
}

test_local_time_offset_moves_clock_and_day if {
	data.accord.clock.local_time(90) == {"clock": "11:30", "day": "mon"} with input.time.seconds as data.accord.testing.monday_10am
	data.accord.clock.local_time(-660) == {"clock": "23:00", "day": "sun"} with input.time.seconds as data.accord.testing.monday_10am
	data.accord.clock.local_time(840) == {"clock": "00:00", "day": "tue"} with input.time.seconds as data.accord.testing.monday_10am
}

test_within_business_hours if {
	data.accord.clock.within(business_hours) with input.time.seconds as data.accord.testing.monday_10am
}

test_outside_business_hours_in_the_evening if {
	not data.accord.clock.within(business_hours) with input.time.seconds as data.accord.testing.monday_8pm
}

test_outside_business_hours_on_saturday if {
	not data.accord.clock.within(business_hours) with input.time.seconds as data.accord.testing.saturday_10am
}

test_start_is_inclusive_end_is_exclusive if {
	data.accord.clock.within({"start": "10:00", "end": "10:01"}) with input.time.seconds as data.accord.testing.monday_10am
	not data.accord.clock.within({"start": "09:00", "end": "10:00"}) with input.time.seconds as data.accord.testing.monday_10am
}

test_window_past_midnight if {
	ten_pm := data.accord.testing.monday_8pm + 7200
	five_59_am := data.accord.testing.monday_10am - 14460
	six_am := data.accord.testing.monday_10am - 14400
	data.accord.clock.within(night_shift) with input.time.seconds as ten_pm
	data.accord.clock.within(night_shift) with input.time.seconds as five_59_am
	not data.accord.clock.within(night_shift) with input.time.seconds as six_am
	not data.accord.clock.within(night_shift) with input.time.seconds as data.accord.testing.monday_10am
}

test_offset_applies_to_window if {
	# 10:00 UTC is 19:00 in UTC+9, outside business hours there
	not data.accord.clock.within(object.union(business_hours, {"utc_offset_minutes": 540})) with input.time.seconds as data.accord.testing.monday_10am
	data.accord.clock.within(object.union(business_hours, {"utc_offset_minutes": -120})) with input.time.seconds as data.accord.testing.monday_10am
}
