package accord.transaction_test

kraken := data.accord.testing.address("Kraken deposit")

test_destination_tags_of_a_book_entry if {
	inp := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "1", "Kraken deposit")
	data.accord.transaction.destination_tags == {"*", "exchange", concat(":", ["eip155:1", kraken])} with input as inp
}

test_destination_outside_the_book_has_no_classification if {
	inp := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "1", "Kraken deposit")
	stranger := "0x000000000000000000000000000000000000dead"
	data.accord.transaction.destination_tags == {"*", "eip155:1:0x000000000000000000000000000000000000dead"} with input as inp with input.intent.destination as stranger
}

test_book_is_per_chain if {
	inp := data.accord.testing.transfer("bob", "ops-wallet", data.accord.testing.usdc, "1", "Kraken deposit")
	data.accord.transaction.destination_tags == {"*", concat(":", ["eip155:8453", kraken])} with input as inp with input.request.payload.chain_id as 8453
}

test_no_transaction_no_destination if {
	data.accord.transaction.destination_tags == {"*"} with input as data.accord.testing.request("bob", "signMessage", "ops-wallet", {"message": "hi"})
}
