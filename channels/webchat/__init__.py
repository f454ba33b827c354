"""The portal web chat: the page /chat, the embeddable /widget.js and its JSON, SSE and polling API."""
