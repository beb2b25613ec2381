"""Static tests of the deployment files: training image, compose setup, Kubernetes job."""
