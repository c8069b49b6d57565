"""Local outputs on gpiozero: stack light, buzzer, interlock relay (``stacklight.StackLight``)."""
