function B = bridge_imgaussfilt3(varargin)
%BRIDGE_IMGAUSSFILT3  MATLAB's imgaussfilt3 (Image Processing Toolbox), by the Python worker.
%   B = BRIDGE_IMGAUSSFILT3(A, SIGMA, NAME, VALUE, ...) as BRIDGE_IMGAUSSFILT with a 3-D
%   Gaussian: SIGMA and 'FilterSize' have 1 or 3 elements (rows, columns, pages); A has at most
%   three dimensions.
%
%   Example:
%     B = bridge_imgaussfilt3(rand(20, 20, 10), [1 1 2])
%
%   See also IMGAUSSFILT3, BRIDGE_IMGAUSSFILT.
B = bridge_gauss('bridge_imgaussfilt3', 'imgaussfilt3', varargin);
end
