"""The chat channels: thin adapters over one `Asker` (see `bot.channels.contract`).

Telegram (`telegram`), Zalo OA (`zalo`), the web chat page (`webchat`); what they share: the
message formatting (`formatting`), the webhook delivery log (`inbox`) and the rate-limited,
logged responder (`logged`).
"""
