CREATE DATABASE catalog OWNER stocksync;
