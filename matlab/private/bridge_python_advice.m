function text = bridge_python_advice()
%BRIDGE_PYTHON_ADVICE  How to choose the interpreter: the end of every bridge:python* message.
text = ['Choose it with ''Python'', PATH in the call, the environment variable BRIDGE_PYTHON ', ...
        'or setpref(''bridge'', ''python'', PATH); bridge_diagnose shows what is used.'];
end
