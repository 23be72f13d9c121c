"""One identity, several protocol views: the documents other systems read."""
