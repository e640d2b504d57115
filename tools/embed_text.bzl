"""embed_text: a text file built into a C++ binary as `extern const char SYMBOL[]`."""

def embed_text(name, src, header, symbol, namespace):
    """A cc_library `name` whose .cc defines `namespace::symbol` as the text of `src`.

    `header` (in the calling package) declares the symbol. The text sits in a raw string
    literal, so it must not contain `)volleytoml"`.
    """
    native.genrule(
        name = name + "_cc",
        srcs = [src],
        outs = [name + ".cc"],
        cmd = ("(echo '#include \"%s/%s\"';" % (native.package_name(), header)) +
              (" echo 'namespace %s {';" % namespace) +
              (" echo 'extern const char %s[] = R\"volleytoml(';" % symbol) +
              " cat $<;" +
              " echo ')volleytoml\";';" +
              (" echo '}  // namespace %s') > $@" % namespace),
    )
    native.cc_library(
        name = name,
        srcs = [":" + name + "_cc"],
        hdrs = [header],
    )
