def build_world(*a, **k):
    raise NotImplementedError
def generate_block(*a, **k):
    raise NotImplementedError
