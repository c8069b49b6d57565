"""Badge readers that deliver one id per line: serial (UART / USB-CDC) and tty / FIFO files."""
