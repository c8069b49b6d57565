"""The zone terminal's screen and voice: a kiosk page the daemon serves to Chromium.

``config`` (the ``kiosk:`` section), ``feed`` (the live state and the server-sent events),
``server`` (aiohttp routes, the service that serves them, the daemon's factory), ``voice``
(Mandarin prompts by espeak-ng, played by aplay / paplay; the buzzer's tap patterns),
``guidance`` (what a worker should do next, per reason code, zh-CN and English) and
``static/`` (plain HTML, CSS and JavaScript: nothing to build on the Pi).
"""
