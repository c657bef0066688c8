"""The answering core: a question in, a cited `Answer` out. Knows no channel and no HTTP.

`engine` loads the index and models, `router` reads what is asked, `compose` writes extractive
answers, `llm` the optional LLM ones, `responder` ties them together; `models` is the Answer.
"""
