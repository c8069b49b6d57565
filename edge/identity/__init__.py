"""On-device face verification (issue 5). Heavy imports (dlib) stay out of this package's root."""
