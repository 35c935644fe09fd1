# What a transaction touches, from the intent the evaluator decoded (input.intent: type,
# token, amount, destination).
package accord.transaction

# CAIP-10 id of the destination, the key of data.address_book.
destination_id := concat(":", ["eip155", format_int(input.request.payload.chain_id, 10), input.intent.destination])

# What a rule's `destinations` may name to admit this destination: its CAIP-10 id, its
# address book classification, and "*" (which is what a rule without the criterion names).
default destination_tags := {"*"}

destination_tags := {"*", destination_id} | {class | class = data.address_book[destination_id].classification}
